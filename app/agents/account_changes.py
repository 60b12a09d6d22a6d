"""What a staff account change means for the call centre floor (receivers of app.staff's signals).

Connected by the factory. Both run inside the transaction that changed the account; the sockets
are closed in every web process once it commits.
"""

from __future__ import annotations

from app.agents.events import disconnect_user
from app.agents.routing import logged_out


def role_changed(user_id: int) -> None:
    """Open sockets keep the old role's rooms until they reconnect: close them."""
    disconnect_user(user_id)


def deactivated(user_id: int) -> None:
    """A deactivated agent gets no more offers, and no socket of theirs stays open."""
    logged_out(user_id)
    disconnect_user(user_id)
