"""What only HTTP needs: problem+json rendering, the request's transaction, route classes,
request guards and caching headers. The only package (with routers, dependencies, the app
factory and ``web/``) that may import FastAPI or Starlette; see docs/architecture.md."""
