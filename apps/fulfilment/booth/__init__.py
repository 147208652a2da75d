"""The booth: exhibitor staff check and redeem passes on a phone, online or offline.

`selectors` reads (which booths a user may run, a pass looked up by its token, the booth's pass
list for offline checks), `services` writes (a batch of redemptions synced from a device), `api`
is the JSON transport under /api/v1/passes/, `views` the /booth/ page and its service worker.
"""
