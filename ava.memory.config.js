// `npm run test:memory`: peak RSS of a server child per hostile peer (issue 9, items 7 and 8) and of a topics hub with stalled subscribers (issue 14). Its
// floods load both cores for about 30 s, which starves the CLI specs' child processes when run
// beside the default suite (ava.config.js), so the default suite excludes these files.
export default {
	files: ['spec/memory/**/*.spec.ts'],
	extensions: {ts: 'module'},
	nodeArguments: ['--import=tsx'],
	timeout: '60s',
	workerThreads: false,
	concurrency: 1,
};
