"""A form the server sent back with errors (templates/_forms.html, pwa/js/server-form-errors.js):
an answer put right stops being marked at once, not at the next submit (issue 12's audit)."""

from playwright.sync_api import expect


def test_a_corrected_answer_stops_being_marked_and_the_rest_stay(page):
    page.goto("/auth/sign-in")
    page.get_by_role("button", name="Sign in").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    email, password = page.locator("#email"), page.locator("#password")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_attribute("aria-invalid", "true")

    email.fill("someone@school.example")

    expect(email).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email-error")).to_be_hidden()
    expect(summary.get_by_role("link")).to_have_text(["Enter your password."])
    # The one still wrong is as it was.
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#password-error")).to_be_visible()

    password.fill("anything at all")
    expect(summary).to_be_hidden()
    expect(page.locator(".field-error")).to_have_count(0)
