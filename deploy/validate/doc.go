// Package validate checks the deployment files (deploy/Dockerfile, the root docker-compose.yml,
// deploy/nginx and deploy/kubernetes) against the application they run: its settings, ports,
// probes and build. It lives in its own module so the app's go.mod stays lean.
package validate
