"""Sandbox: the walls around one submission's Jupyter kernel while ``grading/`` runs it.

In: the limits of a kernel (``limits.py``: ``Limits``, and how they are said) and a uid of its own. Out: a kernel
manager whose kernel runs under bubblewrap with no network, its own unprivileged user, a size-limited scratch
folder, rlimits (``kernel.py``) and, where the machine allows one, a cgroup (``cgroup.py``); ``probe()`` says what
is missing; without the sandbox, ``processes.py`` stops what a kernel started once its grading ends. Next:
``grading/`` talks to the kernel over Unix sockets, then ``reports/`` says which limits held.
"""
