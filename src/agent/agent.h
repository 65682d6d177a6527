/* agent: `sluice agent`, which runs a cluster's EXTERNAL tasks on this machine for a daemon
 * elsewhere (docs/agent-protocol.md): registers as a container instance, long-polls for tasks,
 * runs their containers with the local supervisor (every driver this machine has), and
 * reports their states and output back. Survives the daemon going away (its tasks keep
 * running; it retries, re-registers and re-reports) and stops its containers on SIGTERM. */
#ifndef SL_AGENT_H
#define SL_AGENT_H

/* The `sluice agent` command: argv holds the options after "agent". version is Sluice's
 * version ("sluice-<version>" is the agent version the daemon records). Returns the process's
 * exit status. */
int sl_agent_main(int argc, char **argv, const char *version);

#endif
