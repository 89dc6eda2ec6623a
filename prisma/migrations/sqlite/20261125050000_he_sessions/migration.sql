-- CreateTable
CREATE TABLE "HeSession" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "federationId" TEXT NOT NULL,
    "modelVersion" INTEGER NOT NULL,
    "creatorKeyId" TEXT NOT NULL,
    "layout" TEXT NOT NULL,
    "material" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL,
    CONSTRAINT "HeSession_federationId_fkey" FOREIGN KEY ("federationId") REFERENCES "Federation" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "HeSession_expiresAt_idx" ON "HeSession"("expiresAt");

