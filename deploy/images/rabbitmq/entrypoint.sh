#!/bin/sh
# The official image's environment: the default user, password and vhost; guest may log in from
# any address (as there), since clients come through a published port.
set -eu
cat > "$RABBITMQ_CONFIG_FILE" <<CONF
loopback_users = none
listeners.tcp.default = 5672
management.tcp.port = 15672
default_user = ${RABBITMQ_DEFAULT_USER:-guest}
default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}
default_vhost = ${RABBITMQ_DEFAULT_VHOST:-/}
CONF
if [ "$1" = rabbitmq-server ]; then
  shift
  exec /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
fi
exec "$@"
