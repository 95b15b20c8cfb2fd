"""crisisflow: crisis-communication playbooks as state machines, with statements, approvals,
e-mail tasks and legal deadlines."""

__version__ = "0.1.0"
