"""gunicorn settings for production (``make serve-prod``); every value can be overridden by env."""
import multiprocessing
import os

bind = os.environ.get("SHODAKU_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SHODAKU_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
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
