import { startTestSluice, adminSession, createUser } from '../support/sluice.js';
import { writeFileSync } from 'node:fs';
const t = await startTestSluice({ env: { MFT_LOG_LEVEL: 'debug' } });
const admin = await adminSession(t.base);
await createUser(t.base, admin, { userName: 'ft', emailAddress: 'ft@example.com', password: 'ftps-user-password' });
writeFileSync('/tmp/ftps-ports.json', JSON.stringify({ ...t.sluice.ftpsPorts, base: t.base, admin, dataDir: t.dataDir, db: t.database.url }));
console.log('ready', t.sluice.ftpsPorts);
process.on('SIGTERM', async () => { await t.stop(); process.exit(0); });
