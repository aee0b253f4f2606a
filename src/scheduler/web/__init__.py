"""The staff web pages under ``/admin``: server-rendered, thin over the same services as the API."""
