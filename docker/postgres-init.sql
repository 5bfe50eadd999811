-- First-start setup of the docker-compose Postgres: the same database and least-privilege
-- pipeline role that `npm run stack -- up` creates (stack/services/postgres.ts).
CREATE DATABASE dsr_cdc;
CREATE ROLE dsr_cdc_pipeline LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'dsr-cdc-local';
\connect dsr_cdc
GRANT CONNECT ON DATABASE dsr_cdc TO dsr_cdc_pipeline;
GRANT USAGE ON SCHEMA public TO dsr_cdc_pipeline;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO dsr_cdc_pipeline;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO dsr_cdc_pipeline;
