// Entry point at dist/apps/cli/main.js, where a Nest monorepo build puts it; the app is in src/.
import './src/main';
