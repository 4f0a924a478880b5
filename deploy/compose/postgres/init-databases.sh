#!/bin/sh
# First start of the compose PostgreSQL: one role and one database per service (each
# service runs its own Alembic migrations at startup), plus one for the Dapr state store
# when PostgreSQL is the actor store. No service can read another service's tables.
set -eu

create_database() {
  # $1: role and database name, $2: the role's password
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v name="$1" -v password="$2" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
}

# Each name's password comes from <NAME>_DB_PASSWORD (upper case), e.g. ORCHESTRATOR_DB_PASSWORD.
for name in ${WFB_DATABASES:-orchestrator function_runner admin_api dapr_state}; do
  var="$(echo "$name" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  eval "password=\${$var:?$var is not set}"
  create_database "$name" "$password"
done
