/** How bad an error is for the service, as promised to users (see docs/CONFIGURATION.md). */
export enum Severity {
  CRITICAL = 'critical',
  HIGH = 'high',
  MEDIUM = 'medium',
  LOW = 'low',
}
