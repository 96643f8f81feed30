export default {
	files: ['spec/**/*.spec.ts'],
	extensions: {ts: 'module'},
	nodeArguments: ['--import=tsx'],
	timeout: '60s',
	workerThreads: false,
};
