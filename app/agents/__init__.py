"""Staff: users and roles, login, the role policy; later presence, routing and the console."""
