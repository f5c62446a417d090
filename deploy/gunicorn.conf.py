"""gunicorn settings for production (``make serve-prod``); every value can be overridden by env."""
import multiprocessing
import os

bind = os.environ.get("SHODAKU_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SHODAKU_WEB_WORKERS", max(2, multiprocessing.cpu_count() * 2)))
worker_class = "gthread"
threads = int(os.environ.get("SHODAKU_WEB_THREADS", 4))
timeout = int(os.environ.get("SHODAKU_WEB_TIMEOUT", 60))
graceful_timeout = 30
keepalive = 5
max_requests = 5000  # recycle workers now and then
max_requests_jitter = 500
accesslog = "-"
access_log_format = '{"ts":"%(t)s","remote":"%(h)s","request":"%(r)s","status":%(s)s,"bytes":%(b)s,"ms":%(M)s,"request_id":"%({x-request-id}o)s"}'
errorlog = "-"
forwarded_allow_ips = os.environ.get("SHODAKU_FORWARDED_ALLOW_IPS", "127.0.0.1")
