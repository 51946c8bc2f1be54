// Unit specs: beside the code, pure logic, no servers.
module.exports = {
  ...require('./jest.shared')(__dirname),
  testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'],
};
