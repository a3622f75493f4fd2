"""The HTTP service: FastAPI over SQLModel storage, with Celery or in-process workers."""
