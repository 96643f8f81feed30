// `npm run test:cluster` (and the last step of `npm test`): `websoup serve --workers 4 --redis …` with its own
// redis-server and 200 clients (spec/cluster/). Several processes at once load both cores, which starves the
// CLI specs' child processes when run beside the default suite (ava.config.js), so that suite excludes these files.
export default {
	files: ['spec/cluster/**/*.spec.ts'],
	extensions: {ts: 'module'},
	nodeArguments: ['--import=tsx'],
	timeout: '240s',
	workerThreads: false,
	concurrency: 1,
};
