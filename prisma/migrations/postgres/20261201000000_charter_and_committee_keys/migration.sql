-- Authenticated committee keys: parties hold Ed25519 identity keys, committee members publish a signed
-- X25519 key per round. The long-term X25519 keys are gone (secure federations created before this
-- migration have no charter and must be created again).

-- AlterTable
ALTER TABLE "CommitteeSeat" DROP COLUMN "publicKey",
ADD COLUMN     "identityKey" BYTEA,
ADD COLUMN     "keyedAt" TIMESTAMP(3),
ADD COLUMN     "roundKey" BYTEA,
ADD COLUMN     "signature" BYTEA;

-- AlterTable
ALTER TABLE "Federation" ADD COLUMN     "charter" TEXT,
ADD COLUMN     "charterFingerprint" TEXT,
ADD COLUMN     "lotterySeed" BYTEA;

-- AlterTable
ALTER TABLE "Owner" DROP COLUMN "publicKey",
ADD COLUMN     "identityKey" BYTEA;

-- AlterTable
ALTER TABLE "Round" ADD COLUMN     "committeeDraw" TEXT,
ADD COLUMN     "keyedCount" INTEGER NOT NULL DEFAULT 0;
