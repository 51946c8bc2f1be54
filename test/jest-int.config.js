// Integration and e2e specs: real MariaDB (and later Redis, SMTP, a browser). Run in band.
const path = require('node:path');
module.exports = {
  ...require('../jest.shared')(path.join(__dirname, '..')),
  testMatch: ['<rootDir>/test/**/*.int-spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
  testTimeout: 60_000,
};
