import { startRestReceiver } from '../../tests/helpers/rest-receiver.ts';

// The REST sink's endpoint in a process of its own, so its work does not share the pipeline's thread.
const receiver = await startRestReceiver();
console.log(JSON.stringify({ url: receiver.url }));
process.on('SIGTERM', () => void receiver.close().then(() => process.exit(0)));
