-- Authenticated committee keys: parties hold Ed25519 identity keys, committee members publish a signed
-- X25519 key per round. The long-term X25519 keys are gone (secure federations created before this
-- migration have no charter and must be created again).

-- AlterTable
ALTER TABLE "CommitteeSeat" DROP COLUMN "publicKey";
ALTER TABLE "CommitteeSeat" ADD COLUMN "identityKey" BLOB;
ALTER TABLE "CommitteeSeat" ADD COLUMN "keyedAt" DATETIME;
ALTER TABLE "CommitteeSeat" ADD COLUMN "roundKey" BLOB;
ALTER TABLE "CommitteeSeat" ADD COLUMN "signature" BLOB;

-- AlterTable
ALTER TABLE "Federation" ADD COLUMN "charter" TEXT;
ALTER TABLE "Federation" ADD COLUMN "charterFingerprint" TEXT;
ALTER TABLE "Federation" ADD COLUMN "lotterySeed" BLOB;

-- AlterTable
ALTER TABLE "Owner" DROP COLUMN "publicKey";
ALTER TABLE "Owner" ADD COLUMN "identityKey" BLOB;

-- AlterTable
ALTER TABLE "Round" ADD COLUMN "committeeDraw" TEXT;
ALTER TABLE "Round" ADD COLUMN "keyedCount" INTEGER NOT NULL DEFAULT 0;
