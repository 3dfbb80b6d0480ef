#!/bin/sh
# PostgreSQL's first start in docker-compose.yml (/docker-entrypoint-initdb.d): the nodes' shared
# session store (SESSION_STORE_URL), a database of its own with its own user `nodes`, which
# cannot open the backend's database ($POSTGRES_DB, user $POSTGRES_USER).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v nodes_pw="${NODES_DB_PASSWORD:?NODES_DB_PASSWORD is not set}" -v backend_db="$POSTGRES_DB" <<'SQL'
CREATE ROLE nodes LOGIN PASSWORD :'nodes_pw';
CREATE DATABASE gateway_sessions OWNER nodes;
REVOKE CONNECT, TEMPORARY ON DATABASE :"backend_db" FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE gateway_sessions FROM PUBLIC;
SQL
