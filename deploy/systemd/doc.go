// Package systemd holds the systemd units of the server and the agent;
// its test checks them with systemd-analyze verify.
package systemd
