#!/bin/sh
# Runs a build step's command with an extra CA bundle when the build was given one as the
# secret `build_ca` (a host that reaches PyPI through a TLS-inspecting proxy; `make images`
# passes $SSL_CERT_FILE when it is set). The secret is mounted for the step only: no image
# layer holds it, and it is no part of the layer cache key.
if [ -s /run/secrets/build_ca ]; then
    export SSL_CERT_FILE=/run/secrets/build_ca PIP_CERT=/run/secrets/build_ca
fi
exec "$@"
