/** The broker's worker services, each with a WORKER_<NAME>_HOST in the operator env file. */
export const WORKERS = ['AUDIT', 'EMAIL', 'CRED', 'MEMORY', 'CONFIG', 'CLASSIFY'] as const;
