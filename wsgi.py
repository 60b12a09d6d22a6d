"""Entry point for gunicorn: ``gunicorn -k gthread -w 1 --threads 100 wsgi:app``.

Installed with the package (``pip install .`` ships it as a top-level module beside ``app`` and
``config``), so gunicorn and ``flask --app wsgi`` find it from any working directory.
"""

from app import create_app

app = create_app()
