/**
 * Application ids below 1000 are Sluice's own; integrators register ids from 1000 up.
 */
export const FIRST_INTEGRATOR_APPLICATION_ID = 1000;

export const BuiltInApplication = {
  adminApi: 1,
  httpFiles: 2,
  sftp: 3,
  ftps: 4,
  flows: 5,
} as const;

export const builtInApplications: ReadonlyArray<{
  applicationId: number;
  name: string;
  description: string;
}> = [
  {
    applicationId: 1,
    name: 'Sluice admin API and console',
    description: 'Administration and audit over HTTP',
  },
  { applicationId: 2, name: 'Sluice HTTP file API', description: 'File transfer over HTTPS' },
  { applicationId: 3, name: 'Sluice SFTP', description: 'File transfer over SFTP' },
  { applicationId: 4, name: 'Sluice FTPS', description: 'File transfer over FTPS' },
  { applicationId: 5, name: 'Sluice flows', description: 'Files moved by flows and the upload scan' },
];

export function isReservedApplicationId(applicationId: number): boolean {
  return applicationId < FIRST_INTEGRATOR_APPLICATION_ID;
}

export function isBuiltInApplicationId(applicationId: number): boolean {
  return builtInApplications.some((a) => a.applicationId === applicationId);
}

/** Protocols whose OpenImmutable returns the user's one alive immutable session. */
export function isProtocolApplication(applicationId: number): boolean {
  return applicationId === BuiltInApplication.sftp || applicationId === BuiltInApplication.ftps;
}
