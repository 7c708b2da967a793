# The Python base of the MinGo images on machines that reach no image registry: Debian
# bookworm's own python3.11 (the project's Python) on a debootstrapped Debian bookworm
# (scripts/build_base_image.sh makes DEBIAN_IMAGE, then builds this as
# localhost/mingo-python:3.11-bookworm). Users with a registry build the images on the
# official python:3.11 slim image instead (docker/Dockerfile's default BASE_IMAGE).
ARG DEBIAN_IMAGE=localhost/debian:bookworm
FROM ${DEBIAN_IMAGE}
# debootstrap writes only the release itself to sources.list: add its security and point
# updates, as the official images have.
RUN printf '%s\n' \
        'deb http://deb.debian.org/debian bookworm main' \
        'deb http://deb.debian.org/debian bookworm-updates main' \
        'deb http://deb.debian.org/debian-security bookworm-security main' \
        > /etc/apt/sources.list \
    && apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3.11 python3.11-venv ca-certificates \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
ENV LANG=C.UTF-8
CMD ["python3.11"]
