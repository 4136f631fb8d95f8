"""`insights serve`: the web app for editors (/admin), subscribers (unsubscribe,
preferences, confirmation, sign-up, web versions) and SendGrid's event webhook.
A thin shell over the library: every decision lives in the stores and pure functions."""

from .app import create_app

__all__ = ["create_app"]
