# Sourced by the scale-out scripts: a fresh vault's environment on the CI servers
# (scripts/ci-services.sh, env file sourced). Takes $name (the run's label); sets $work (removed on
# exit), the schemas $name_RUN in both databases, a bucket of its own, a new keyring and witness.
run=$(date +%s)$$
schema=${name}_$run
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PGPASSWORD=$COFFER_TEST_POSTGRES_PASSWORD psql -qX -h 127.0.0.1 -p "${COFFER_TEST_PG_PORT:-54329}" -U coffer coffer -c "CREATE SCHEMA $schema"
PGPASSWORD=$COFFER_TEST_POSTGRES_PII_PASSWORD psql -qX -h 127.0.0.1 -p "${COFFER_TEST_PG_PORT:-54329}" -U coffer_pii coffer_pii -c "CREATE SCHEMA $schema"

export COFFER_VAULT="$COFFER_TEST_POSTGRES_URL?sslmode=disable&schema=$schema" PGPASSWORD=$COFFER_TEST_POSTGRES_PASSWORD
export COFFER_PII_DATABASE="$COFFER_TEST_POSTGRES_PII_URL?sslmode=disable&schema=$schema" COFFER_PII_PGPASSWORD=$COFFER_TEST_POSTGRES_PII_PASSWORD
export AWS_ENDPOINT_URL_S3=$COFFER_TEST_S3_ENDPOINT AWS_ACCESS_KEY_ID=$COFFER_TEST_S3_ACCESS_KEY_ID
export AWS_SECRET_ACCESS_KEY=$COFFER_TEST_S3_SECRET_ACCESS_KEY AWS_REGION=${COFFER_TEST_S3_REGION:-us-east-1}
export COFFER_OBJECT_STORE=s3://coffer-$name-$run/vault COFFER_ACTOR=$name-operator
export COFFER_KEYRING=$work/keyring.json COFFER_WITNESS=$work/witness
