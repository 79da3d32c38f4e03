# Reference values for openect.outcomes, computed with R (survival, sandwich, geepack).
# Run from the repository root:  Rscript scripts/r/outcomes_reference.R
# Input:  tests/fixtures/r/outcomes_lesions.csv, outcomes_patients.csv (scripts/r/outcomes_input.py)
# Output: tests/fixtures/r/outcomes_*.csv (committed; the tests do not need R).
suppressPackageStartupMessages({
  library(survival)
  library(sandwich)
  library(geepack)
})

dir <- "tests/fixtures/r"
header <- sprintf("# scripts/r/outcomes_reference.R with %s, survival %s, sandwich %s, geepack %s",
                  R.version.string, packageVersion("survival"), packageVersion("sandwich"),
                  packageVersion("geepack"))
write_fixture <- function(frame, name) {
  path <- file.path(dir, name)
  writeLines(header, path)
  out <- as.data.frame(lapply(frame, function(x) if (is.numeric(x)) format(x, digits = 17, trim = TRUE) else x))
  suppressWarnings(write.table(out, path, sep = ",", row.names = FALSE, quote = TRUE, append = TRUE))
}

as_bool <- function(x) x %in% c("True", "TRUE", "true")
lesions <- read.csv(file.path(dir, "outcomes_lesions.csv"), stringsAsFactors = FALSE)
patients <- read.csv(file.path(dir, "outcomes_patients.csv"), stringsAsFactors = FALSE)
for (col in c("large", "ulcerated", "previously_irradiated", "concurrent_immunotherapy")) {
  lesions[[col]] <- as.numeric(as_bool(lesions[[col]]))
}
lesions$subcutaneous <- as.numeric(lesions$layer == "subcutaneous")
lesions$cr <- as.numeric(lesions$cr)
lesions$cr[lesions$landmark_response == "NE"] <- NA
lesions$objective <- as.numeric(lesions$objective)
lesions$objective[lesions$landmark_response == "NE"] <- NA
patients$concurrent_immunotherapy <- as.numeric(as_bool(patients$concurrent_immunotherapy))

# ---- Kaplan-Meier: step functions with log-log CIs
km_rows <- function(fit, group) {
  data.frame(group = group, time = fit$time, survival = fit$surv, ci_low = fit$lower,
             ci_high = fit$upper, at_risk = fit$n.risk, events = fit$n.event)
}
lc <- subset(lesions, !is.na(control_days))
fit_all <- survfit(Surv(control_days, progression) ~ 1, data = lc, conf.type = "log-log")
km <- km_rows(fit_all, "all")
for (g in c(0, 1)) {
  fit_g <- survfit(Surv(control_days, progression) ~ 1, data = subset(lc, concurrent_immunotherapy == g),
                   conf.type = "log-log")
  km <- rbind(km, km_rows(fit_g, if (g == 1) "True" else "False"))
}
write_fixture(km, "outcomes_km_local_control.csv")

os <- subset(patients, !is.na(os_days))
fit_os <- survfit(Surv(os_days, death) ~ 1, data = os, conf.type = "log-log")
write_fixture(km_rows(fit_os, "all"), "outcomes_km_overall_survival.csv")
landmarks <- summary(fit_all, times = c(200, 365))
write_fixture(data.frame(time = landmarks$time, survival = landmarks$surv, ci_low = landmarks$lower,
                         ci_high = landmarks$upper), "outcomes_km_landmarks.csv")

# ---- Cox model of local progression, robust SE clustered on the patient (Efron ties)
cx <- subset(lc, control_days > 0)
cox <- coxph(Surv(control_days, progression) ~ large + subcutaneous + ulcerated +
               previously_irradiated + concurrent_immunotherapy,
             data = cx, cluster = patient_id, ties = "efron",
             control = coxph.control(eps = 1e-10, iter.max = 100))
s <- summary(cox)
write_fixture(data.frame(covariate = rownames(s$coefficients), coef = s$coefficients[, "coef"],
                         se_robust = s$coefficients[, "robust se"],
                         hr_low = s$conf.int[, "lower .95"], hr_high = s$conf.int[, "upper .95"]),
              "outcomes_cox.csv")

# ---- Response rates: exact (Clopper-Pearson), Wilson, cluster-robust (lesions)
ev <- subset(lesions, !is.na(cr))
pe <- subset(patients, response != "NE")
rate_row <- function(unit, outcome, y, cluster = NULL) {
  x <- sum(y); n <- length(y)
  exact <- binom.test(x, n)$conf.int
  wilson <- prop.test(x, n, correct = FALSE)$conf.int
  cl <- c(NA, NA)
  if (!is.null(cluster)) {
    fit <- glm(y ~ 1, family = binomial)
    se <- sqrt(vcovCL(fit, cluster = cluster, type = "HC1")[1, 1])
    cl <- plogis(coef(fit)[1] + c(-1, 1) * qnorm(0.975) * se)
  }
  data.frame(unit = unit, outcome = outcome, events = x, evaluable = n, rate = x / n,
             exact_low = exact[1], exact_high = exact[2], wilson_low = wilson[1],
             wilson_high = wilson[2], cluster_low = cl[1], cluster_high = cl[2])
}
rates <- rbind(
  rate_row("lesion", "cr", ev$cr, ev$patient_id),
  rate_row("lesion", "objective", ev$objective, ev$patient_id),
  rate_row("patient", "cr", as.numeric(pe$response == "CR")),
  rate_row("patient", "objective", as.numeric(pe$response %in% c("CR", "PR")))
)
write_fixture(rates, "outcomes_rates.csv")

# ---- Logistic GEE of CR, exchangeable working correlation within patients
ev <- ev[order(ev$patient_id), ]
gee <- geeglm(cr ~ large + subcutaneous + ulcerated + previously_irradiated + concurrent_immunotherapy,
              id = factor(patient_id), data = ev, family = binomial, corstr = "exchangeable",
              control = geese.control(epsilon = 1e-12, maxit = 100))
gs <- summary(gee)$coefficients
write_fixture(data.frame(covariate = rownames(gs), coef = gs[, "Estimate"], se_robust = gs[, "Std.err"]),
              "outcomes_gee.csv")
cat("written", dir, "\n")
