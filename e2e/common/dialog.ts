import { expect, type Page } from "@playwright/test";

/**
 * Presses Confirm in the open confirmation once it has stopped moving. Dialogs scale in from the
 * pointer; a click while one still moves can press on the button and release beside it, which the
 * browser counts as no click (seen on a loaded CI machine). The dashboard marks a settled, unanswered
 * dialog's button `data-entered="true"`, so exactly one button matches, never one that is fading out.
 */
export async function confirmAction(page: Page): Promise<void> {
  const button = page.locator('[data-testid="confirm-action"][data-entered="true"]');
  await expect(button).toHaveCount(1);
  await button.click();
}

/** Closes the outcome report once it has stopped moving (the same mark as confirmAction's). */
export async function closeOutcome(page: Page): Promise<void> {
  const button = page.locator('[data-testid="outcome-close"][data-entered="true"]');
  await expect(button).toHaveCount(1);
  await button.click();
}
