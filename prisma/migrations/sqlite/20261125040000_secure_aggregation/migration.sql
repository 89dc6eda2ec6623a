-- AlterTable
ALTER TABLE "Federation" ADD COLUMN "secureConfig" TEXT;

-- CreateTable
CREATE TABLE "CommitteeSeat" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "roundId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "ownerId" TEXT NOT NULL,
    "publicKey" BLOB NOT NULL,
    CONSTRAINT "CommitteeSeat_roundId_fkey" FOREIGN KEY ("roundId") REFERENCES "Round" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "CommitteeSeat_ownerId_fkey" FOREIGN KEY ("ownerId") REFERENCES "Owner" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ShareEnvelope" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "roundId" TEXT NOT NULL,
    "senderId" TEXT NOT NULL,
    "recipientId" TEXT NOT NULL,
    "envelope" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ShareEnvelope_roundId_fkey" FOREIGN KEY ("roundId") REFERENCES "Round" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "ShareEnvelope_senderId_fkey" FOREIGN KEY ("senderId") REFERENCES "Owner" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "PartialSum" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "roundId" TEXT NOT NULL,
    "memberId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "includedSetHash" TEXT NOT NULL,
    "values" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "PartialSum_roundId_fkey" FOREIGN KEY ("roundId") REFERENCES "Round" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "PartialSum_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Owner" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- AlterTable (SQLite adds columns in place; the defaults fill existing rows)
ALTER TABLE "Owner" ADD COLUMN "role" TEXT NOT NULL DEFAULT 'owner';
ALTER TABLE "Owner" ADD COLUMN "publicKey" BLOB;
ALTER TABLE "Owner" ADD COLUMN "committeeVolunteer" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "Round" ADD COLUMN "includedSetHash" TEXT;
ALTER TABLE "Round" ADD COLUMN "includedCount" INTEGER;
ALTER TABLE "Round" ADD COLUMN "summingDeadline" DATETIME;
ALTER TABLE "Round" ADD COLUMN "partialSumCount" INTEGER NOT NULL DEFAULT 0;

-- CreateIndex
CREATE UNIQUE INDEX "CommitteeSeat_roundId_position_key" ON "CommitteeSeat"("roundId", "position");

-- CreateIndex
CREATE UNIQUE INDEX "CommitteeSeat_roundId_ownerId_key" ON "CommitteeSeat"("roundId", "ownerId");

-- CreateIndex
CREATE INDEX "ShareEnvelope_roundId_recipientId_idx" ON "ShareEnvelope"("roundId", "recipientId");

-- CreateIndex
CREATE UNIQUE INDEX "ShareEnvelope_roundId_senderId_recipientId_key" ON "ShareEnvelope"("roundId", "senderId", "recipientId");

-- CreateIndex
CREATE UNIQUE INDEX "PartialSum_roundId_memberId_key" ON "PartialSum"("roundId", "memberId");

-- CreateIndex
CREATE UNIQUE INDEX "PartialSum_roundId_position_key" ON "PartialSum"("roundId", "position");

