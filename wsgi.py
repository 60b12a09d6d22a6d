"""Entry point of the web processes: ``gunicorn -k gthread -w 1 --threads 100 wsgi:app``.

Pages, the JSON API and Twilio's webhooks. The consoles' WebSockets (``/socket.io/``) go to the
realtime processes instead (``wsgi_realtime.py``, gevent), so that they hold no thread here.

Installed with the package (``pip install .`` ships it as a top-level module beside ``app`` and
``config``), so gunicorn and ``flask --app wsgi`` find it from any working directory.
"""

from app import create_app

app = create_app()
