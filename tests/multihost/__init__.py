"""Multi-host tests: the stack spread over Linux network namespaces on one machine ("Beyond one machine").

    TEST_RUN_ID=mh .venv/bin/python -m pytest -p no:xdist -q -m slow tests/multihost -s

Root only (namespaces, veth pairs); needs iproute2, util-linux and haproxy (installed with apt-get
when missing). Postgres and Redis come from Debian's packages when present, else from the dev
requirements' wheels. Skipped with the reason when it cannot run, except under CI=true, where it fails.

hosts.py: namespaces, veths, processes per host. stack.py: the hosts' services (Postgres primary +
streaming replica, Redis, gunicorn x2, Celery x2 + beat, HAProxy). settings.py: the hosts' Django
settings. djseed.py: seeding through Django. buyers.py: the drop's client.
"""
