#!/bin/sh
# Rendered by agentkeys broker render ({{stack}} stack). certbot runs this after each renewal:
# nginx keeps serving the certificate it loaded until it is reloaded, and STS stops fetching the
# JWKS once that one expires. A config nginx -t refuses is never loaded.
set -e
nginx -t -q
systemctl reload nginx
