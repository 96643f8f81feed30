// The package suite (`npm run test:package`, and last in `npm test`): `npm pack` on a fresh clone and
// installs into temporary projects, a tsc build and an npm install each. One file, serial, so it
// stays within two cores beside nothing else; the default suite (ava.config.js) excludes it.
export default {
	files: ['spec/package/**/*.spec.ts'],
	extensions: {ts: 'module'},
	nodeArguments: ['--import=tsx'],
	timeout: '300s',
	workerThreads: false,
	concurrency: 1,
};
