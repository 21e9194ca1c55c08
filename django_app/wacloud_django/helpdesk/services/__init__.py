"""The help desk's logic: tickets (the built-in backend's writes), sessions, and the intake
that turns an inbound message into a ticket, a comment or a command's answer."""
