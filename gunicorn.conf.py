"""gunicorn settings, read from the working directory by default (`gunicorn gateway.wsgi`).

The access log leaves out the remote user (`%(u)s`): a client that sends its API key as an
HTTP Basic user name would otherwise have the key written to the log.
"""

access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
