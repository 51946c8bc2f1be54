import { SetMetadata } from '@nestjs/common';

export const ADMIN_PUBLIC = 'database-resilience:admin-public';

/** An admin route anyone may reach (the login form and the page's own assets): it still gets the security headers. */
export const AdminPublic = () => SetMetadata(ADMIN_PUBLIC, true);
