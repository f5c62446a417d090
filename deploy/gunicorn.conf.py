"""gunicorn settings for production (``make serve-prod``); every value can be overridden by env."""
import os

bind = os.environ.get("SHODAKU_BIND", "127.0.0.1:8000")
# One worker per core, plus one to use a core while another waits on the database. An approval
# is CPU work, so more processes than that only take turns on the cores and evict each other's
# caches: on 2 cores with PostgreSQL on the same machine, 3 workers completed 102-103 approvals/s,
# 4 workers 89-93 and gunicorn's textbook 2 x cores + 1 = 5 workers 86, each approval costing
# 12.7, 13.8 and 14.6 ms of CPU (make bench --workers N). With PostgreSQL on another host every
# statement also waits on the network: measure there before raising SHODAKU_WEB_WORKERS.
# The cores this process may run on (a container's cpuset), not every core of the host.
workers = int(os.environ.get("SHODAKU_WEB_WORKERS", len(os.sched_getaffinity(0)) + 1))
# Sync workers, one request each: nginx in front buffers slow clients, and a request is CPU
# work under the GIL, so threads in one process only queue behind each other (measured 20-30 %
# fewer approvals per second with gthread, make bench). SHODAKU_WEB_THREADS > 1 selects gthread.
worker_class = os.environ.get("SHODAKU_WEB_WORKER_CLASS", "sync")
threads = int(os.environ.get("SHODAKU_WEB_THREADS", 1))
timeout = int(os.environ.get("SHODAKU_WEB_TIMEOUT", 60))
graceful_timeout = 30
keepalive = 5
max_requests = 5000  # recycle workers now and then
max_requests_jitter = 500
accesslog = "-"
access_log_format = '{"ts":"%(t)s","remote":"%(h)s","request":"%(r)s","status":%(s)s,"bytes":%(b)s,"ms":%(M)s,"request_id":"%({x-request-id}o)s"}'
errorlog = "-"
forwarded_allow_ips = os.environ.get("SHODAKU_FORWARDED_ALLOW_IPS", "127.0.0.1")
