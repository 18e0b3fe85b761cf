"""smartlic: Smart Licensing Using Policy — product instance, utility and authority."""

__version__ = "0.1.0"
