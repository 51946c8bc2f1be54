import { StandardSchemaValidationPipe, type INestApplication } from '@nestjs/common';

/** App-wide settings shared by main.ts and the e2e tests, so that tests run the app as it ships. */
export function configureApp(app: INestApplication): INestApplication {
  app.useGlobalPipes(new StandardSchemaValidationPipe());
  app.enableShutdownHooks();
  return app;
}
