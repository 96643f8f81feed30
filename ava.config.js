export default {
	files: ['spec/**/*.spec.ts', '!spec/interop/**', '!spec/memory/**', '!spec/cluster/**'],
	extensions: {ts: 'module'},
	nodeArguments: ['--import=tsx'],
	timeout: '60s',
	workerThreads: false,
};
