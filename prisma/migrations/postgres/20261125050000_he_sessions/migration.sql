-- CreateTable
CREATE TABLE "HeSession" (
    "id" TEXT NOT NULL,
    "federationId" TEXT NOT NULL,
    "modelVersion" INTEGER NOT NULL,
    "creatorKeyId" TEXT NOT NULL,
    "layout" TEXT NOT NULL,
    "material" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "HeSession_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "HeSession_expiresAt_idx" ON "HeSession"("expiresAt");

-- AddForeignKey
ALTER TABLE "HeSession" ADD CONSTRAINT "HeSession_federationId_fkey" FOREIGN KEY ("federationId") REFERENCES "Federation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

