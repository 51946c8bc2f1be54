// Entry point at dist/apps/api/main.js, where a Nest monorepo build puts it; the app is in src/.
import './src/main';
